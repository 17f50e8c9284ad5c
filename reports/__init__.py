"""Results JSON -> tables, plots, HTML and the comparison with the paper."""
