// Command sluice-client is a small example client of Sluice in Go: it checks the server's health, describes a
// model version (GetModelVersion) and scores one row (Predict), over plaintext or TLS, with an optional API
// key or bearer token sent as call metadata.
//
// It builds offline from Debian's packages (grpc-go 1.33, google.golang.org/protobuf 1.28) with the stubs that
// protoc-gen-go and protoc-gen-go-grpc generate from proto/sluice/v1/inference.proto; see examples/go/build.
//
//	sluice-client -addr 127.0.0.1:50051 -ca certs/dev/ca.pem -api-key "$SLUICE_API_KEY" \
//	    -model churn -version @champion -feature age=42 -feature income=52000 -feature plan=basic
//
// Output: one line per call, `name: key=value ...`, scores and lists comma-separated, floats in their
// shortest round-trip form (so a float32 prints exactly as the server sent it).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	sluicev1 "sluice/gen/go/sluice/v1"
)

// featureFlags collects repeated `-feature name=value` flags; a value that parses as a number is sent as
// `FeatureValue.number`, anything else as `FeatureValue.text` (prefix it with `text:` to force text).
type featureFlags map[string]*sluicev1.FeatureValue

func (f featureFlags) String() string { return fmt.Sprintf("%d features", len(f)) }

func (f featureFlags) Set(arg string) error {
	name, value, ok := strings.Cut(arg, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", arg)
	}
	if strings.HasPrefix(value, "text:") {
		f[name] = &sluicev1.FeatureValue{Kind: &sluicev1.FeatureValue_Text{Text: strings.TrimPrefix(value, "text:")}}
	} else if number, err := strconv.ParseFloat(value, 64); err == nil {
		f[name] = &sluicev1.FeatureValue{Kind: &sluicev1.FeatureValue_Number{Number: number}}
	} else {
		f[name] = &sluicev1.FeatureValue{Kind: &sluicev1.FeatureValue_Text{Text: value}}
	}
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "server address host:port")
	caFile := flag.String("ca", "", "PEM file of the CA that signed the server certificate; enables TLS (without it: plaintext)")
	serverName := flag.String("server-name", "", "TLS server name to verify (default: the host of -addr)")
	apiKey := flag.String("api-key", os.Getenv("SLUICE_API_KEY"), "API key sent as x-api-key (default $SLUICE_API_KEY)")
	token := flag.String("token", os.Getenv("SLUICE_TOKEN"), "JWT sent as authorization: Bearer (default $SLUICE_TOKEN)")
	model := flag.String("model", "", "model name (required)")
	version := flag.String("version", "", `version selector: "", "7", "production", "@champion", "models:/churn/7"`)
	routingKey := flag.String("routing-key", "", "sticky rollout assignment key")
	dense := flag.String("dense", "", "numeric features in signature order, comma-separated (instead of -feature)")
	timeout := flag.Duration("timeout", 10*time.Second, "deadline of each call")
	features := featureFlags{}
	flag.Var(features, "feature", "a feature as name=value (repeatable)")
	flag.Parse()
	if *model == "" {
		fail(errors.New("-model is required"))
	}

	var transport grpc.DialOption
	if *caFile != "" {
		config, err := tlsConfig(*caFile, *serverName)
		if err != nil {
			fail(err)
		}
		transport = grpc.WithTransportCredentials(credentials.NewTLS(config))
	} else {
		transport = grpc.WithInsecure()
	}
	conn, err := grpc.Dial(*addr, transport)
	if err != nil {
		fail(fmt.Errorf("dial %s: %w", *addr, err))
	}
	defer conn.Close()

	// Credentials travel as call metadata, the same on plaintext and TLS (the server reads x-api-key or
	// authorization; a bearer token wins when both are set).
	var md []string
	if *token != "" {
		md = append(md, "authorization", "Bearer "+*token)
	}
	if *apiKey != "" {
		md = append(md, "x-api-key", *apiKey)
	}
	call := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		return metadata.AppendToOutgoingContext(ctx, md...), cancel
	}

	ctx, cancel := call()
	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	cancel()
	if err != nil {
		fail(fmt.Errorf("Health/Check: %w", err))
	}
	fmt.Printf("health: status=%s\n", health.GetStatus())

	client := sluicev1.NewInferenceClient(conn)
	ctx, cancel = call()
	described, err := client.GetModelVersion(ctx, &sluicev1.GetModelVersionRequest{Model: *model, Version: *version})
	cancel()
	if err != nil {
		fail(fmt.Errorf("GetModelVersion: %w", err))
	}
	for _, v := range described.GetVersions() {
		printVersion(v)
	}

	request := &sluicev1.PredictRequest{Model: *model, Version: *version, RoutingKey: *routingKey, Features: features}
	if *dense != "" {
		values, err := parseDense(*dense)
		if err != nil {
			fail(err)
		}
		request.Dense = values
	}
	ctx, cancel = call()
	reply, err := client.Predict(ctx, request)
	cancel()
	if err != nil {
		fail(fmt.Errorf("Predict: %w", err))
	}
	printPrediction(reply)
}

// tlsConfig trusts only the CA in caFile and offers ALPN h2, as gRPC requires.
func tlsConfig(caFile, serverName string) (*tls.Config, error) {
	pem, err := ioutil.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read -ca: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-ca %s: no PEM certificate in it", caFile)
	}
	return &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}, nil
}

func parseDense(list string) ([]float32, error) {
	var values []float32
	for _, field := range strings.Split(list, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(field), 32)
		if err != nil {
			return nil, fmt.Errorf("-dense: %q is not a number", field)
		}
		values = append(values, float32(v))
	}
	return values, nil
}

func printVersion(v *sluicev1.ModelVersion) {
	sig := v.GetSignature()
	var features []string
	for _, f := range sig.GetFeatures() {
		features = append(features, f.GetName()+":"+f.GetType())
	}
	var classes []string
	for _, c := range sig.GetClassLabelsInt() {
		classes = append(classes, strconv.FormatInt(c, 10))
	}
	classes = append(classes, sig.GetClassLabelsString()...)
	fmt.Printf("model: name=%s version=%d stage=%s state=%s aliases=%s task=%s classes=%s features=%s\n",
		v.GetModel(), v.GetVersion(), v.GetStage(), v.GetState(), strings.Join(sorted(v.GetAliases()), ","),
		sig.GetTask(), strings.Join(classes, ","), strings.Join(features, ","))
}

func printPrediction(r *sluicev1.PredictResponse) {
	var label string
	switch p := r.GetPrediction().(type) {
	case *sluicev1.PredictResponse_LabelInt:
		label = "label=" + strconv.FormatInt(p.LabelInt, 10)
	case *sluicev1.PredictResponse_LabelString:
		label = "label=" + p.LabelString
	case *sluicev1.PredictResponse_Value:
		label = "value=" + strconv.FormatFloat(p.Value, 'g', -1, 64)
	}
	scores := make([]string, len(r.GetScores()))
	for i, s := range r.GetScores() {
		scores[i] = strconv.FormatFloat(float64(s), 'g', -1, 32)
	}
	fmt.Printf("predict: model=%s version=%d variant=%s %s scores=%s confidence=%s request_id=%s\n",
		r.GetModel(), r.GetVersion(), r.GetVariant(), label, strings.Join(scores, ","),
		strconv.FormatFloat(float64(r.GetConfidence()), 'g', -1, 32), r.GetRequestId())
}

func sorted(values []string) []string {
	out := append([]string(nil), values...)
	sort.Strings(out)
	return out
}

// fail prints the gRPC status code and message (or a usage error) and exits 1.
func fail(err error) {
	if s, ok := status.FromError(errors.Unwrap(err)); ok && s.Code() != 0 {
		fmt.Fprintf(os.Stderr, "sluice-client: %v (code=%s)\n", err, s.Code())
	} else {
		fmt.Fprintf(os.Stderr, "sluice-client: %v\n", err)
	}
	os.Exit(1)
}
