from ikcheck.cli import main

main()
