"""The e-license library (电子证照库): long-lived licenses issued by departments, versioned,
held by people and organisations, shown selectively (亮证) and used by departments (用证).

See docs/licenses.md for the model and the formats.
"""
