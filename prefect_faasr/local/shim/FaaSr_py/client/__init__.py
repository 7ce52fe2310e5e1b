"""Client side of the FaaSr user-function API (local stand-in)."""
