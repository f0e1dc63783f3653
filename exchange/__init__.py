"""The use cases of the exchange, as plain Python services (no Flask): connectors to the
source departments, the sharing policy and consent, consumer systems' credentials, the
tamper-evident access log, e-certificate issuance and verification, and matter handlers.
"""
