"""Checking a project without running it: the VAL-OPT matrix (``validation``) and the
policy run (``check_run``) that renders once, derives every selection and hands
each distinct model to the rules in ``checks``.
"""
