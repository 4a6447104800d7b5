"""The analyst's dashboard (``severity dashboard``): Streamlit pages over the served artifact, the registry, the catalog
and the prediction log. Importing this package imports nothing else: Streamlit is loaded when the command runs."""
