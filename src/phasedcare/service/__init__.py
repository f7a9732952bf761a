"""The service layer: the Engine, authorisation, projections, ports and views."""
