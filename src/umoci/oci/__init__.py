"""Pure OCI data: digests, media types, descriptors, manifests, configs, refs. No I/O."""
