"""The BentoML service and what it needs: request schemas, routing, the prediction log, packaging."""
