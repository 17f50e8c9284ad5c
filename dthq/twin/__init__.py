"""The digital twin (paper §3.5-3.8): validated readings, each patient's twin with a
partial NEWS2 score and alerts, and the FHIR R4B mapping."""
