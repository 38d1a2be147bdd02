"""Job artifacts: the files a finished job leaves in object storage."""
