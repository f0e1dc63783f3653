"""The edges of mianzheng: the Flask app, its blueprints per audience, the problem+json
error mapping, the database wiring and migrations, web pages and the `mianzheng` CLI.

Everything here is thin: it parses, authorises and renders; the work is done by the
plain-Python services in catalog/, seals/ and exchange/.
"""
