package cli

// amlctl deadletters purge.

import (
	"context"
	"fmt"
)

const deadlettersPurgeAbout = `
Deletes the dead letters SEQ..., or all of them without SEQ. Nothing is asked:
without --yes it prints the dead letters it would delete and deletes nothing
(exit status 0); with --yes it deletes them and prints each one deleted. The
delete is a secure one: the NATS servers overwrite the body on disk, since a
command may hold personal data. To keep a command, replay it first.`

func (a *app) runDeadLettersPurge(ctx context.Context, args []string) error {
	var (
		conn natsSettings
		yes  bool
	)
	f := a.newFlags("deadletters purge", "amlctl deadletters purge [flags] [SEQ...]", deadlettersPurgeAbout)
	f.Bool(&yes, "yes", false, "delete them; without it, only print what would be deleted")
	conn.register(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	seqs, err := parseSeqs(pos)
	if err != nil {
		return err
	}
	dl, _, closeConn, err := openDeadLetters(ctx, &conn)
	if err != nil {
		return err
	}
	defer closeConn()
	picked, err := pick(ctx, dl, seqs)
	if err != nil {
		return err
	}
	if len(picked) == 0 {
		fmt.Fprintf(a.stderr, "no dead letters in %s: nothing to delete\n", dl.Name())
		return nil
	}
	if !yes {
		printDeadLetters(a.stdout, picked)
		fmt.Fprintf(a.stderr, "nothing deleted: run again with --yes to delete %s from %s\n", plural(len(picked), "dead letter"), dl.Name())
		return nil
	}
	n := 0
	for _, d := range picked {
		deleted, err := dl.Delete(ctx, d.Seq)
		if err != nil {
			return fmt.Errorf("%w (%s deleted before it)", err, plural(n, "dead letter"))
		}
		if deleted {
			n++
			fmt.Fprintf(a.stdout, "deleted dead letter %d\n", d.Seq)
		} else {
			fmt.Fprintf(a.stdout, "dead letter %d was gone already\n", d.Seq)
		}
	}
	fmt.Fprintf(a.stdout, "deleted %s from %s\n", plural(n, "dead letter"), dl.Name())
	return nil
}
