"""Where the parts of the service live under its address: the JSON API under `API_PREFIX`,
whose answers are for programs (problem documents, no forms); everything else is pages."""

API_PREFIX = "/api/"
