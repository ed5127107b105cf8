"""Benchmark adapters on the dispatch model: the home-healthcare (HHCRSP) instances and their
scoring. (The VRPTW files are read by `routing.vrplib` and solved by `routing.vrptw_solver`.)"""
