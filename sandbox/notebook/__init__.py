"""A local Databricks notebook runtime: source-format notebooks run on local PySpark with a dbutils stand-in."""
