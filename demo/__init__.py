"""The demo and development part of mianzheng, outside the product: the deterministic demo
population and the source departments' demo databases, the demo licenses and applications, the
development identity provider (开发测试用身份认证) with its sign-in pages, and their commands.

It may import catalog, seals, exchange and api; none of them imports it. The app, the command
line and `mianzheng init` load it through `api.extensions` only in demo/development mode
(MIANZHENG_DEV_IDP, on by default only for the embedded SQLite installation); a production
installation runs without it (tests/test_demo_absent.py).
"""
