"""A test that passes on Linux and fails on Windows: it deletes a log file it still
holds open. Under `sharefs run` it fails on Linux too, and the report names both
parties."""

import os
import unittest


class CleanupTest(unittest.TestCase):
    def test_rotate_log(self):
        with open("app.log", "w") as f:
            f.write("started\n")
        log = open("app.log")          # still open: a handle leak
        self.assertEqual(log.readline(), "started\n")
        os.remove("app.log")           # Windows: PermissionError / EBUSY under sharefs
        log.close()


if __name__ == "__main__":
    unittest.main()
