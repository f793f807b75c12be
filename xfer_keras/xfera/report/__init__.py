"""XFERa's figures and reports, built from result objects (never recomputing them): the
Figure-1 panel, the HTML report and the summary table."""
