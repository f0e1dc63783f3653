"""Matter handlers (办事): a department applies for a citizen's matter and the exchange resolves
every proof the matter requires without paper, then decides on the matter's rules.

- records.py: the tables; parties.py: who an application is about; context.py: what the
  handlers need from the installation;
- service.py: filing, adding commitments, resuming; resolution.py: resolving each proof by its
  mode, round by round, under a lease (leases.py); counter_consents.py: the written authorisation
  signed at the counter;
- evaluation.py and decision.py: the catalog's CEL rules and their provenance;
- commitments.py and field_values.py: the signed 告知承诺; post_check.py and verifiability.py:
  their 事后核查; investigation.py: tasks handed to departments;
- reading.py: the application as its department reads it; statistics.py: paper saved;
- recheck.py (with recheck_records.py and tenancies.py): the annual re-check of beneficiaries.
"""
