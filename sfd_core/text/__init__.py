"""Text-to-image forgetting: Stable Diffusion adapter, prompts, the bundled shapes toy."""
