"""Registry integrations: the OCI distribution client (``oci``) and Harbor."""
