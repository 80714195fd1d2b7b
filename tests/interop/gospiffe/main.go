// gospiffe-check: an unmodified go-spiffe v2 client pointed at a Workload
// API socket. The interop test runs it against mayfly-agent (and, where it
// builds, the SPIRE agent) to show that a real third-party client works.
//
//	gospiffe-check x509 -socket unix:///path [-expect-id ID] [-rotations N]
//	gospiffe-check bundles -socket unix:///path
//	gospiffe-check jwt -socket unix:///path -audience AUD
//	gospiffe-check reflect -socket unix:///path
//
// Exit 0 with "ok" as the last line on success; 1 with the reason otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: gospiffe-check x509|bundles|jwt -socket ADDR ..."))
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	socket := fs.String("socket", "", "Workload API address (unix:///path)")
	expectID := fs.String("expect-id", "", "SPIFFE ID the default SVID must have")
	rotations := fs.Int("rotations", 0, "wait for this many new SVIDs")
	audience := fs.String("audience", "", "JWT audience")
	timeout := fs.Duration("timeout", 60*time.Second, "overall deadline")
	_ = fs.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := workloadapi.WithAddr(*socket)

	var err error
	switch os.Args[1] {
	case "x509":
		err = checkX509(ctx, client, *expectID, *rotations)
	case "bundles":
		err = checkBundles(ctx, client)
	case "jwt":
		err = checkJWT(ctx, client, *audience)
	case "reflect":
		err = checkReflection(ctx, *socket)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	fmt.Println("ok")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gospiffe-check:", err)
	os.Exit(1)
}

// checkX509 watches X.509 contexts, verifies each default SVID against the
// bundle it came with, and waits for `rotations` SVIDs with new serials.
func checkX509(ctx context.Context, addr workloadapi.ClientOption, expectID string, rotations int) error {
	updates := make(chan *workloadapi.X509Context, 16)
	errs := make(chan error, 1)
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		errs <- workloadapi.WatchX509Context(watchCtx, watcher{updates}, addr)
	}()
	seen := map[string]bool{}
	for n := 1; ; n++ {
		var c *workloadapi.X509Context
		select {
		case c = <-updates:
		case err := <-errs:
			return fmt.Errorf("watch ended: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("after %d updates and %d distinct SVIDs: %w", n-1, len(seen), ctx.Err())
		}
		svid := c.DefaultSVID()
		if expectID != "" && svid.ID.String() != expectID {
			return fmt.Errorf("default SVID is %s, want %s", svid.ID, expectID)
		}
		if _, _, err := x509svid.Verify(svid.Certificates, c.Bundles); err != nil {
			return fmt.Errorf("SVID does not verify against its bundle: %w", err)
		}
		leaf := svid.Certificates[0]
		serial := leaf.SerialNumber.Text(16)
		bundle, _ := c.Bundles.GetX509BundleForTrustDomain(svid.ID.TrustDomain())
		fmt.Printf("update n=%d id=%s serial=%s not_after=%s bundle_roots=%d\n",
			n, svid.ID, serial, leaf.NotAfter.UTC().Format(time.RFC3339), len(bundle.X509Authorities()))
		seen[serial] = true
		if len(seen) > rotations {
			return nil
		}
	}
}

type watcher struct {
	updates chan<- *workloadapi.X509Context
}

func (w watcher) OnX509ContextUpdate(c *workloadapi.X509Context) { w.updates <- c }
func (w watcher) OnX509ContextWatchError(err error) {
	if !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "watch error (retrying):", err)
	}
}

func checkBundles(ctx context.Context, addr workloadapi.ClientOption) error {
	set, err := workloadapi.FetchX509Bundles(ctx, addr)
	if err != nil {
		return err
	}
	for _, b := range set.Bundles() {
		roots := b.X509Authorities()
		for _, r := range roots {
			if !r.IsCA {
				return fmt.Errorf("bundle of %s holds a non-CA certificate", b.TrustDomain())
			}
		}
		fmt.Printf("bundle trust_domain=%s roots=%d\n", b.TrustDomain(), len(roots))
	}
	return nil
}

func checkJWT(ctx context.Context, addr workloadapi.ClientOption, audience string) error {
	svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: audience}, addr)
	if err != nil {
		return fmt.Errorf("FetchJWTSVID: %w", err)
	}
	viaAgent, err := workloadapi.ValidateJWTSVID(ctx, svid.Marshal(), audience, addr)
	if err != nil {
		return fmt.Errorf("ValidateJWTSVID: %w", err)
	}
	bundles, err := workloadapi.FetchJWTBundles(ctx, addr)
	if err != nil {
		return fmt.Errorf("FetchJWTBundles: %w", err)
	}
	local, err := jwtsvid.ParseAndValidate(svid.Marshal(), jwtbundle.Source(bundles), []string{audience})
	if err != nil {
		return fmt.Errorf("local validation against the JWT bundle: %w", err)
	}
	if viaAgent.ID != svid.ID || local.ID != svid.ID {
		return fmt.Errorf("subjects disagree: %s %s %s", svid.ID, viaAgent.ID, local.ID)
	}
	fmt.Printf("jwt sub=%s expires=%s\n", svid.ID, svid.Expiry.UTC().Format(time.RFC3339))
	return nil
}

// checkReflection lists the server's services through gRPC server
// reflection, as grpcurl does, and requires the Workload API among them.
func checkReflection(ctx context.Context, socket string) error {
	conn, err := grpc.NewClient(socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return fmt.Errorf("reflection: %w", err)
	}
	if err := stream.Send(&rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}); err != nil {
		return err
	}
	resp, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("reflection: %w", err)
	}
	found := false
	for _, s := range resp.GetListServicesResponse().GetService() {
		fmt.Printf("service %s\n", s.GetName())
		found = found || s.GetName() == "SpiffeWorkloadAPI"
	}
	if !found {
		return errors.New("SpiffeWorkloadAPI not listed by reflection")
	}
	return nil
}
