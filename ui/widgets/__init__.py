"""Reusable widgets: policy diff view, log pane, query results model/view, account picker."""
