"""Object storage behind one small interface: a local folder or S3 (via the minio client)."""

from domain.storage.base import ObjectInfo, ObjectNotFound, Storage, open_storage

__all__ = ["ObjectInfo", "ObjectNotFound", "Storage", "open_storage"]
