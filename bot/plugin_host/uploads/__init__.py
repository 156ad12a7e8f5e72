"""Uploads: an archive's checks before anything is extracted (`archive_checks`), the
install pipeline (`installer`), validated archives kept in the database
(`stored_archives`), the on-disk upload directory and its owner (`upload_dir`), and the
author's tools (`packaging`)."""
