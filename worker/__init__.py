"""RQ jobs that publish signed posts to the official account. Built in a later issue."""
