"""The gRPC layer: validation, conversion, the servicer and the server."""
