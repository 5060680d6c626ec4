"""The caller's documents and collections, as routes look them up: a document of another
workspace is answered like one that does not exist."""

from __future__ import annotations

from retrieval.storage.store import COLLECTION_RULE, DocumentRecord, is_collection_name
from web.context import current_runtime
from web.errors import ApiError
from web.identity import workspace


def owned_document(document_id: str) -> DocumentRecord:
    """The document, if it is the caller's workspace's; else 404 (another team's document
    looks the same as none)."""
    record = current_runtime().store.document_in(workspace(), document_id)
    if record is None:
        raise no_document(document_id)
    return record


def no_document(document_id: str) -> ApiError:
    return ApiError(404, "not_found", f"No document with id {document_id}.")


def checked_collection(name: str) -> str:
    """The name, if it can name a collection; else a 400 saying what a name may be."""
    if not is_collection_name(name):
        raise ApiError(400, "bad_collection", COLLECTION_RULE)
    return name
