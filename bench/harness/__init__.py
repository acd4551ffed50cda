"""Test and benchmark harnesses: real Mosquitto brokers and a simulated chain of stores on loopback."""
