"""The data catalog: departments, proofs, data items, matters, handling modes and sharing rules.

Loading and validating the published catalog and checking identifiers (GB 11643 citizen ID
numbers, GB 32100 unified social credit codes). No web and no cryptography live here.
"""
