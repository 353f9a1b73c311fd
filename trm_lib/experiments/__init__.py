"""Measurements around the reference model: ablations, linear probes of the latent state, timing."""
