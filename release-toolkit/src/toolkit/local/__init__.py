"""Running the data application on this machine, without any cloud."""
