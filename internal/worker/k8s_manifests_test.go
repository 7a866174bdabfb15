package worker

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// k8sDir is deploy/k8s, relative to this package.
const k8sDir = "../../deploy/k8s"

// k8sObject is one manifest, as read from one document of a file: only the
// fields the tests below look at.
type k8sObject struct {
	File     string
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec k8sPodSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sPodSpec struct {
	Containers []struct {
		Name         string `yaml:"name"`
		Image        string `yaml:"image"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
		Projected *struct {
			Sources []struct {
				Secret *struct {
					Name string `yaml:"name"`
				} `yaml:"secret"`
			} `yaml:"sources"`
		} `yaml:"projected"`
	} `yaml:"volumes"`
}

// k8sManifests reads every YAML document under deploy/k8s (optional/ and
// the examples included).
func k8sManifests(t *testing.T) []k8sObject {
	t.Helper()
	var objs []k8sObject
	err := filepath.WalkDir(k8sDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		f, err := os.Open(path) //nolint:gosec // G304: the repository's own files
		if err != nil {
			return err
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		for {
			var o k8sObject
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			rel, _ := filepath.Rel(k8sDir, path)
			o.File = filepath.ToSlash(rel)
			objs = append(objs, o)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func k8sFind(t *testing.T, objs []k8sObject, kind, name string) k8sObject {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	t.Fatalf("deploy/k8s: no %s %s", kind, name)
	return k8sObject{}
}

// TestKubernetesManifestsPinImages: every image has a version tag (or a
// digest), never latest, in the manifests and in kustomization.yaml.
func TestKubernetesManifestsPinImages(t *testing.T) {
	pinned := func(where, image string) {
		if _, digest, ok := strings.Cut(image, "@"); ok && digest != "" {
			return
		}
		_, tag, ok := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("%s: image %q has no version tag", where, image)
		}
	}
	images := 0
	for _, o := range k8sManifests(t) {
		for _, c := range o.Spec.Template.Spec.Containers {
			pinned(o.File+" "+o.Kind+" "+o.Metadata.Name, c.Image)
			images++
		}
	}
	if images < 3 {
		t.Errorf("found %d images in deploy/k8s, want the worker, the bridge and the topology Job", images)
	}

	k := k8sKustomization(t)
	if len(k.Images) == 0 {
		t.Error("kustomization.yaml: no images: with the released tag")
	}
	for _, im := range k.Images {
		if im.Digest == "" && (im.NewTag == "" || im.NewTag == "latest") {
			t.Errorf("kustomization.yaml: image %s: newTag %q, want a version", im.Name, im.NewTag)
		}
	}
}

type k8sKustomizationFile struct {
	Resources []string `yaml:"resources"`
	Images    []struct {
		Name   string `yaml:"name"`
		NewTag string `yaml:"newTag"`
		Digest string `yaml:"digest"`
	} `yaml:"images"`
}

func k8sKustomization(t *testing.T) k8sKustomizationFile {
	t.Helper()
	b, err := os.ReadFile(k8sDir + "/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k k8sKustomizationFile
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKubernetesManifestsApplyNetworkPolicies: both components' policies
// (and the topology Job's) are applied by kustomization.yaml, not optional.
func TestKubernetesManifestsApplyNetworkPolicies(t *testing.T) {
	objs := k8sManifests(t)
	resources := k8sKustomization(t).Resources
	for _, name := range []string{"kybflow-worker", "kybflow-webhook-bridge", "kybflow-topology"} {
		o := k8sFind(t, objs, "NetworkPolicy", name)
		if !slices.Contains(resources, o.File) {
			t.Errorf("NetworkPolicy %s (%s) is not in kustomization.yaml's resources", name, o.File)
		}
	}
	if !slices.Contains(resources, "topology-job.yaml") {
		t.Error("topology-job.yaml is not in kustomization.yaml's resources")
	}
}

// TestKubernetesManifestsNATSConnection: both ConfigMaps connect with TLS,
// and every workload mounts its own NATS user's Secret where the
// ConfigMap's NATS_CREDS points.
func TestKubernetesManifestsNATSConnection(t *testing.T) {
	objs := k8sManifests(t)
	for _, tc := range []struct{ kind, name, configMap, secret string }{
		{"Deployment", "kybflow-worker", "kybflow-worker", "kybflow-worker-nats"},
		{"Deployment", "kybflow-webhook-bridge", "kybflow-webhook-bridge", "kybflow-bridge-nats"},
		{"Job", "kybflow-topology", "kybflow-worker", "kybflow-operator-nats"},
	} {
		cm := k8sFind(t, objs, "ConfigMap", tc.configMap)
		if u := cm.Data["NATS_URL"]; !strings.HasPrefix(u, "tls://") {
			t.Errorf("ConfigMap %s: NATS_URL %q, want tls://", tc.configMap, u)
		}
		creds := cm.Data["NATS_CREDS"]
		if creds == "" {
			t.Errorf("ConfigMap %s: no NATS_CREDS", tc.configMap)
		}

		pod := k8sFind(t, objs, tc.kind, tc.name).Spec.Template.Spec
		var volume string
		for _, v := range pod.Volumes {
			if v.Secret != nil && v.Secret.SecretName == tc.secret {
				volume = v.Name
			}
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.Secret != nil && s.Secret.Name == tc.secret {
						volume = v.Name
					}
				}
			}
		}
		if volume == "" {
			t.Errorf("%s %s: no volume of the Secret %s", tc.kind, tc.name, tc.secret)
			continue
		}
		mounted := false
		for _, c := range pod.Containers {
			for _, m := range c.VolumeMounts {
				if m.Name == volume && strings.HasPrefix(creds, strings.TrimSuffix(m.MountPath, "/")+"/") {
					mounted = true
				}
			}
		}
		if !mounted {
			t.Errorf("%s %s: the Secret %s is not mounted where NATS_CREDS (%s) points", tc.kind, tc.name, tc.secret, creds)
		}
	}
}
