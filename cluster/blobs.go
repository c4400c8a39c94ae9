package cluster

import (
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Blobs (xapi_blob.ml and the create_new_blob of each owner class): a blob is a record of
// binary data that xapi keeps in a file of dom0 and serves over HTTP (/blob). Uploading
// and downloading the content is HTTP, not XenAPI, and is not simulated: every blob stays
// empty (size 0, last_updated the epoch).

// blobOwners are the classes with a blobs map and a create_new_blob message.
var blobOwners = []string{"pool", "host", "VM", "network", "SR"}

func (p *Sim) registerBlobs() {
	s := p.srv
	for _, class := range blobOwners {
		s.Handle(class+".create_new_blob", func(c *xapi.Call) (any, error) { return p.createNewBlob(c, class) })
	}
	s.Handle("blob.create", func(c *xapi.Call) (any, error) {
		return p.newBlob(c.StringArg(0), c.Arg(1).(bool))
	})
	s.Handle("blob.destroy", func(c *xapi.Call) (any, error) {
		ref := c.StringArg(0)
		_, err := s.Store.Update(func(tx *store.Tx) error {
			// xapi forgets the blob in the VMs' blobs only; other owners keep the dangling ref.
			for _, vm := range tx.All("VM") {
				blobs := xapi.Map(vm, "blobs")
				var names []string
				for name, b := range blobs {
					if b == ref {
						names = append(names, name)
					}
				}
				if len(names) == 0 {
					continue
				}
				blobs = xapi.CopyMap(blobs)
				for _, name := range names {
					delete(blobs, name)
				}
				vm = vm.Clone()
				xapi.Set(vm, "blobs", blobs)
				tx.Put(vm)
			}
			if _, err := xapi.GetObject(tx, "blob", ref); err != nil {
				return err
			}
			tx.Delete("blob", ref)
			return nil
		})
		return nil, err
	})
}

// newBlob stores an empty blob, as Xapi_blob.create: no name, the MIME type
// application/octet-stream unless one is given.
func (p *Sim) newBlob(mimeType string, public bool) (string, error) {
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	b := p.srv.NewObject("blob")
	xapi.Set(b, "mime_type", mimeType)
	xapi.Set(b, "public", public)
	xapi.Set(b, "size", int64(0))
	xapi.Set(b, "last_updated", time.Unix(0, 0).UTC())
	if _, err := p.srv.Store.Update(func(tx *store.Tx) error { tx.Put(b); return nil }); err != nil {
		return "", err
	}
	return b.Ref, nil
}

// createNewBlob is <class>.create_new_blob: xapi checks the owner (all but the pool, when
// logging the call), creates the blob, then adds it to the owner's blobs map under name.
// These are two writes of a database without transactions, so when the second fails
// (the pool ref is bogus, the name is empty or taken) the new blob stays behind, unnamed
// and unowned, as it does in xapi.
func (p *Sim) createNewBlob(c *xapi.Call, class string) (any, error) {
	owner, name := c.StringArg(0), c.StringArg(1)
	if class != "pool" {
		if _, err := c.Get(class, owner); err != nil {
			return nil, err
		}
	}
	blob, err := p.newBlob(c.StringArg(2), c.Arg(3).(bool))
	if err != nil {
		return nil, err
	}
	column := p.srv.Schema.Class(class).Field("blobs").Column
	_, err = p.srv.Store.Update(func(tx *store.Tx) error {
		o, err := xapi.GetObject(tx, class, owner)
		if err != nil {
			return err
		}
		if name == "" {
			return apierror.Internal("Db_exn.Empty_key_in_map")
		}
		blobs := xapi.Map(o, "blobs")
		if _, dup := blobs[name]; dup {
			return apierror.New(apierror.MapDuplicateKey, class, column, owner, name)
		}
		blobs = xapi.CopyMap(blobs)
		blobs[name] = blob
		o = o.Clone()
		xapi.Set(o, "blobs", blobs)
		tx.Put(o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return blob, nil
}
