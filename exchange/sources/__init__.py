"""Source departments behind the connector contract: the contract itself (`contract.py`),
the values of records (`values.py`), a department's own records database (`records.py`),
the adapters the exchange queries through (`http_source.py`, `inprocess_source.py`, with
`breaker.py`), the directory that builds one source per department from configuration
(`directory.py`) and the deterministic demo data of the departments (`demo_*.py`).
See docs/connectors.md.
"""
