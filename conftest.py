"""Test-wide settings, loaded before any notebook kernel starts (kernels inherit this environment)."""
import os

# Every notebook runs in the 'quick' profile under test, whatever the reader's shell says.
os.environ['D2LUTILS_PROFILE'] = 'quick'
