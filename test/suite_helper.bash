# Everything is in test_helper.bash; this name stays only for suites that
# still `load suite_helper` (one-line shim).
load test_helper
