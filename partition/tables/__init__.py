"""Table structure from words and rules on a page: columns, ruled grids, repair, joins over page breaks."""
