"""值班值守 · 信息报送: rosters (1+1+X+X) and who is on duty now, check-in and 查岗, the duty log,
handovers, and the statutory reports sent up (首报/续报/终报)."""
