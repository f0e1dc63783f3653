"""Imports every package's mapped tables so that one metadata describes the whole schema."""

import catalog.versions  # noqa: F401  (catalog_versions)
import seals.registry  # noqa: F401  (seal_ca, seals)
import exchange.access_log  # noqa: F401  (access_log)
import exchange.answer_store  # noqa: F401  (exchange_requests)
import exchange.clients  # noqa: F401  (exchange_clients)
import exchange.consent  # noqa: F401  (consents)
import exchange.certificate_records  # noqa: F401  (certificates)
import exchange.counters  # noqa: F401  (counters)
import exchange.job_heartbeats  # noqa: F401  (job_heartbeats)
import exchange.status_lists  # noqa: F401  (status_lists)
import exchange.applications.records  # noqa: F401  (applications, application_items, commitments, investigation_tasks)
import exchange.applications.recheck_records  # noqa: F401  (tenancies, recheck_runs, recheck_results)
import exchange.licenses.records  # noqa: F401  (licenses, license_versions, license_nonces, license_usages)
import api.setup_steps  # noqa: F401  (setup_steps)
import api.ended_sessions  # noqa: F401  (ended_staff_sessions)
from core.orm import Base

metadata = Base.metadata
