"""The city's trust: CA, department seal certificates and keys, seal images, signing and verification.

Layout (each module is small and has one job):

- `ca`          certificate profiles: the city root CA, department seal certificates, CRLs
- `keys`        encrypted key files and the `Signer` interface (an HSM can replace key files)
- `seal_image`  the red round seal as vector graphics (PDF) and PNG
- `jws`, `pades`            signing: JWS compact (ES256) and PAdES (pyHanko)
- `verdict`, `checks`       the verdict model and the checks shared by both verifiers
- `verify_jws`, `verify_pdf` verification against a `TrustStore`
- `trust`       the published trust material (root, seal certificates, CRL, JWKS)
- `registry`    the seal registry tables and the operator service functions
- `settings`, `errors`, `b64`  explicit settings, domain errors, base64url

This package imports only `catalog` and contains no web code; callers pass every setting in
explicitly (`SealSettings`), nothing here reads the environment.
"""
