"""E-certificates: identifiers, content, the three signed forms, the status list and verification (docs/certificates.md)."""
