# Kept only for suites that still `load clients_helper`: everything is in
# test_helper.bash now.
load test_helper
