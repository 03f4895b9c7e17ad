"""Trained weights shipped with flowkit (safetensors) and their JSON cards."""
