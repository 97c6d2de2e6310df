"""The client plumbing: call counting and the shared model loader stay bounded."""

from __future__ import annotations

from wizard.aws import _SHARED_LOADER, is_mutating, new_session


def test_sessions_share_one_loader_whose_search_paths_stay_finite() -> None:
    new_session(region_name="us-east-1")
    before = list(_SHARED_LOADER.search_paths)
    sessions = [new_session(region_name="us-east-1") for _ in range(30)]
    assert _SHARED_LOADER.search_paths == before
    assert all(s._session.get_component("data_loader") is _SHARED_LOADER for s in sessions)


def test_reads_and_queries_are_not_counted_as_writes() -> None:
    for op in ("GetBucketPolicy", "ListRoles", "DescribeStacks", "HeadBucket", "AssumeRole",
               "GetCallerIdentity", "StartQueryExecution"):
        assert not is_mutating(op), op
    for op in ("PutBucketPolicy", "AddPermission", "CreateRole", "DeleteDataCatalog",
               "ExecuteChangeSet", "UpdateAssumeRolePolicy"):
        assert is_mutating(op), op
