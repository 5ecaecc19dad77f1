"""What a remote space was found to do (dingtalk-api.md §15.3): the names the probe reports
and the state store keeps, and where an answer came from."""

from __future__ import annotations

import enum


class Capability(enum.StrEnum):
    """One tenant-dependent behaviour; the value is its key in `check --probe --json`."""

    UPLOAD = "upload"
    OVERWRITE_IN_PLACE = "overwrite_in_place"
    UPLOAD_INFO_ACCEPTS_EXISTING_NAME = "upload_info_accepts_existing_name"
    COMMIT_RETURNS_VERSION = "commit_returns_version"
    ETAG_IS_MD5 = "etag_is_md5"
    LISTING_RETURNS_STAMP = "listing_returns_stamp"
    GET_RETURNS_STAMP = "get_returns_stamp"
    ADD_FOLDER = "add_folder"
    RENAME = "rename"
    MOVE = "move"


class Source(enum.StrEnum):
    """How an answer was found: tried by `check --probe`, or seen in normal traffic."""

    PROBE = "probe"
    TRAFFIC = "traffic"


NOT_SUPPORTED = "operationNotSupported"  # the code of a call a space does not offer (§15.3.3)
NAME_CONFLICT = "dentryNameConflict"  # upload info refusing a name that exists (§15.3.2)
