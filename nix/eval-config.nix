# placeholder replaced by config helper
