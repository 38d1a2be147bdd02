"""The Celery worker nodes as they advertise themselves: what each offers (device, GPUs, job
slots) and when it was last seen. The API sizes ``gpus`` against the live ones."""
