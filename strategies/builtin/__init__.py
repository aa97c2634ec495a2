"""The built-in strategies: classes on the SDK like any trader's own."""
