"""Replay: scenario files of shopctl command lines, run as profiles, with expectations."""
