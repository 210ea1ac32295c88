//! Writing and reading CF NetCDF-4 files of named grids through GDAL's multidimensional
//! API (GDAL's raster API numbers the variables of a multi-band copy, and cannot append
//! one in GDAL 3.6). The `gdal` crate reads multidimensional datasets but does not create
//! them, so creation goes through `gdal-sys` here, behind a small safe type.

use std::ffi::{CStr, CString, c_void};
use std::path::Path;
use std::ptr;

use gdal::cpl::CslStringList;
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use gdal_sys::{
    GDALAttributeH, GDALDataType, GDALDatasetH, GDALDimensionH, GDALExtendedDataTypeH, GDALGroupH,
    GDALMDArrayH,
};

use crate::raster::GeoGrid;

type R<T> = std::result::Result<T, String>;

/// GDAL's last error message.
fn last_error(what: &str) -> String {
    // SAFETY: CPLGetLastErrorMsg returns a valid NUL-terminated string owned by GDAL
    // (thread-local), valid until the next GDAL call on this thread; it is copied at once.
    let msg = unsafe { CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) }
        .to_string_lossy()
        .into_owned();
    if msg.is_empty() {
        format!("{what} failed")
    } else {
        format!("{what} failed: {msg}")
    }
}

/// Stop HDF5 printing its error stack on this thread. netCDF-C probes for optional
/// attributes (e.g. `_QuantizeBitGroomNumberOfSignificantDigits`) and HDF5 reports each
/// miss as an error; netCDF-C silences that only on the thread that first opened a file,
/// and HDF5 keeps the setting per thread, so a read on a worker thread would print pages
/// of `HDF5-DIAG` lines. HDF5 is looked up in the loaded process (GDAL links it); nothing
/// happens where it is absent.
pub fn quiet_hdf5() {
    type SetAuto = unsafe extern "C" fn(i64, *mut c_void, *mut c_void) -> i32;
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks a symbol up.
    let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"H5Eset_auto2".as_ptr()) };
    if !f.is_null() {
        // SAFETY: H5Eset_auto2(hid_t estack_id, H5E_auto2_t func, void *client_data) in
        // HDF5 ≥ 1.8 (hid_t is int64_t since 1.10); H5E_DEFAULT is 0, and a null function
        // turns printing off for the calling thread.
        unsafe {
            let set: SetAuto = std::mem::transmute::<*mut c_void, SetAuto>(f);
            set(0, ptr::null_mut(), ptr::null_mut());
        }
    }
}

fn c(s: &str) -> R<CString> {
    CString::new(s).map_err(|e| format!("`{s}`: {e}"))
}

/// A NetCDF-4 file being written: a root group with `y` and `x` dimensions (cell
/// centres, north first), variables on them and attributes.
pub struct NcWriter {
    ds: GDALDatasetH,
    root: GDALGroupH,
    dims: [GDALDimensionH; 2],
    f64_type: GDALExtendedDataTypeH,
    string_type: GDALExtendedDataTypeH,
    srs: Option<SpatialRef>,
    rows: usize,
    cols: usize,
}

impl std::fmt::Debug for NcWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NcWriter({} × {})", self.cols, self.rows)
    }
}

impl NcWriter {
    /// A new file at `path` for grids on `grid` in `crs_wkt` (may be empty).
    pub fn create(path: &Path, grid: &GeoGrid, crs_wkt: &str) -> R<Self> {
        quiet_hdf5();
        let srs = if crs_wkt.is_empty() {
            None
        } else {
            Some(SpatialRef::from_wkt(crs_wkt).map_err(|e| e.to_string())?)
        };
        let name = c(&path.to_string_lossy())?;
        let options = CslStringList::from_iter(["FORMAT=NC4"]);
        // SAFETY: every handle is checked for null before use; the strings outlive the
        // calls; handles are released in Drop (or on the error paths below).
        unsafe {
            let driver = gdal_sys::GDALGetDriverByName(c("netCDF")?.as_ptr());
            if driver.is_null() {
                return Err("this GDAL has no netCDF driver".into());
            }
            let ds = gdal_sys::GDALCreateMultiDimensional(
                driver,
                name.as_ptr(),
                ptr::null_mut(),
                options.as_ptr(),
            );
            if ds.is_null() {
                return Err(last_error("creating the NetCDF file"));
            }
            let root = gdal_sys::GDALDatasetGetRootGroup(ds);
            if root.is_null() {
                gdal_sys::GDALClose(ds);
                return Err(last_error("opening its root group"));
            }
            let mut w = Self {
                ds,
                root,
                dims: [ptr::null_mut(); 2],
                f64_type: gdal_sys::GDALExtendedDataTypeCreate(GDALDataType::GDT_Float64),
                string_type: gdal_sys::GDALExtendedDataTypeCreateString(0),
                srs,
                rows: grid.rows,
                cols: grid.cols,
            };
            for (i, (dim, kind, size)) in [
                ("y", "HORIZONTAL_Y", grid.rows),
                ("x", "HORIZONTAL_X", grid.cols),
            ]
            .into_iter()
            .enumerate()
            {
                let d = gdal_sys::GDALGroupCreateDimension(
                    w.root,
                    c(dim)?.as_ptr(),
                    c(kind)?.as_ptr(),
                    ptr::null(),
                    size as u64,
                    ptr::null_mut(),
                );
                if d.is_null() {
                    return Err(last_error(&format!("creating dimension {dim}")));
                }
                w.dims[i] = d;
            }
            // Coordinate variables: cell centres in the CRS's units.
            let ys: Vec<f64> = (0..grid.rows).map(|r| grid.centre(r, 0).1).collect();
            let xs: Vec<f64> = (0..grid.cols).map(|col| grid.centre(0, col).0).collect();
            for (i, (name, values, standard)) in [
                ("y", &ys, "projection_y_coordinate"),
                ("x", &xs, "projection_x_coordinate"),
            ]
            .into_iter()
            .enumerate()
            {
                let mut dim = [w.dims[i]];
                let arr = w.array(name, &mut dim, &[])?;
                let written = w.write_array(arr, &[values.len()], values).and_then(|()| {
                    w.array_attribute(arr, "standard_name", standard)?;
                    // Named like its dimension, it is the dimension's coordinate variable
                    // (NetCDF's own rule).
                    w.array_attribute(arr, "units", "m")
                });
                gdal_sys::GDALMDArrayRelease(arr);
                written?;
            }
            Ok(w)
        }
    }

    /// # Safety
    /// `dims` must hold valid dimension handles of this file.
    unsafe fn array(
        &self,
        name: &str,
        dims: &mut [GDALDimensionH],
        options: &[&str],
    ) -> R<GDALMDArrayH> {
        let options = CslStringList::from_iter(options.iter().copied());
        // SAFETY: the group, dimensions and type are valid handles; the name and options
        // outlive the call.
        let arr = unsafe {
            gdal_sys::GDALGroupCreateMDArray(
                self.root,
                c(name)?.as_ptr(),
                dims.len(),
                dims.as_mut_ptr(),
                self.f64_type,
                options.as_ptr(),
            )
        };
        if arr.is_null() {
            return Err(last_error(&format!("creating variable {name}")));
        }
        Ok(arr)
    }

    /// # Safety
    /// `arr` must be a valid array handle of this file with dimensions `count`.
    unsafe fn write_array(&self, arr: GDALMDArrayH, count: &[usize], values: &[f64]) -> R<()> {
        let start = vec![0u64; count.len()];
        assert_eq!(count.iter().product::<usize>(), values.len());
        // SAFETY: `values` holds exactly the product of `count` f64s, row-major like the
        // array; GDAL reads that many.
        let ok = unsafe {
            gdal_sys::GDALMDArrayWrite(
                arr,
                start.as_ptr(),
                count.as_ptr(),
                ptr::null(),
                ptr::null(),
                self.f64_type,
                values.as_ptr().cast::<c_void>(),
                values.as_ptr().cast::<c_void>(),
                std::mem::size_of_val(values),
            )
        };
        if ok == 0 {
            return Err(last_error("writing values"));
        }
        Ok(())
    }

    /// # Safety
    /// `arr` must be a valid array handle of this file.
    unsafe fn array_attribute(&self, arr: GDALMDArrayH, name: &str, value: &str) -> R<()> {
        // SAFETY: valid handles; the strings outlive the calls.
        unsafe {
            let attr = gdal_sys::GDALMDArrayCreateAttribute(
                arr,
                c(name)?.as_ptr(),
                0,
                ptr::null(),
                self.string_type,
                ptr::null_mut(),
            );
            write_string(attr, name, value)
        }
    }

    /// A variable `name` on (y, x): `values` row-major, north row first; with its unit
    /// and long name, DEFLATE-compressed, georeferenced by the file's CRS.
    pub fn variable(&mut self, name: &str, values: &[f64], unit: &str, long_name: &str) -> R<()> {
        if values.len() != self.rows * self.cols {
            return Err(format!(
                "{name}: {} values for a {} × {} grid",
                values.len(),
                self.cols,
                self.rows
            ));
        }
        let mut dims = self.dims;
        // SAFETY: the dimensions are this file's; the array handle is released below.
        unsafe {
            let arr = self.array(name, &mut dims, &["COMPRESS=DEFLATE", "ZLEVEL=1"])?;
            let done = (|| {
                if let Some(srs) = &self.srs
                    && gdal_sys::GDALMDArraySetSpatialRef(arr, srs.to_c_hsrs()) == 0
                {
                    return Err(last_error(&format!("setting the CRS of {name}")));
                }
                self.array_attribute(arr, "units", unit)?;
                self.array_attribute(arr, "long_name", long_name)?;
                self.write_array(arr, &[self.rows, self.cols], values)
            })();
            gdal_sys::GDALMDArrayRelease(arr);
            done
        }
    }

    /// A global text attribute.
    pub fn attribute(&mut self, name: &str, value: &str) -> R<()> {
        // SAFETY: valid group and type handles; the strings outlive the calls.
        unsafe {
            let attr = gdal_sys::GDALGroupCreateAttribute(
                self.root,
                c(name)?.as_ptr(),
                0,
                ptr::null(),
                self.string_type,
                ptr::null_mut(),
            );
            write_string(attr, name, value)
        }
    }

    /// Finish the file (flushes and closes it).
    pub fn close(mut self) -> R<()> {
        self.release();
        Ok(())
    }

    fn release(&mut self) {
        // SAFETY: each handle is released once and nulled; the dataset last.
        unsafe {
            for d in &mut self.dims {
                if !d.is_null() {
                    gdal_sys::GDALDimensionRelease(*d);
                    *d = ptr::null_mut();
                }
            }
            for t in [&mut self.f64_type, &mut self.string_type] {
                if !t.is_null() {
                    gdal_sys::GDALExtendedDataTypeRelease(*t);
                    *t = ptr::null_mut();
                }
            }
            if !self.root.is_null() {
                gdal_sys::GDALGroupRelease(self.root);
                self.root = ptr::null_mut();
            }
            if !self.ds.is_null() {
                gdal_sys::GDALClose(self.ds);
                self.ds = ptr::null_mut();
            }
        }
    }
}

impl Drop for NcWriter {
    fn drop(&mut self) {
        self.release();
    }
}

/// # Safety
/// `attr` must be null or a valid attribute handle; it is released here.
unsafe fn write_string(attr: GDALAttributeH, name: &str, value: &str) -> R<()> {
    if attr.is_null() {
        return Err(last_error(&format!("creating attribute {name}")));
    }
    let value = c(value);
    // SAFETY: `attr` is valid; the value outlives the call; the handle is released once.
    unsafe {
        let ok = value
            .as_ref()
            .map(|v| gdal_sys::GDALAttributeWriteString(attr, v.as_ptr()) != 0);
        gdal_sys::GDALAttributeRelease(attr);
        match ok {
            Ok(true) => Ok(()),
            Ok(false) => Err(last_error(&format!("writing attribute {name}"))),
            Err(e) => Err(e.clone()),
        }
    }
}

/// A NetCDF file opened for reading its variables and global attributes.
#[derive(Debug)]
pub struct NcReader {
    ds: Dataset,
}

impl NcReader {
    pub fn open(path: &Path) -> R<Self> {
        quiet_hdf5();
        let ds = Dataset::open_ex(
            path,
            DatasetOptions {
                open_flags: GdalOpenFlags::GDAL_OF_MULTIDIM_RASTER,
                allowed_drivers: Some(&["netCDF"]),
                ..DatasetOptions::default()
            },
        )
        .map_err(|e| e.to_string())?;
        Ok(Self { ds })
    }

    /// A global text attribute, if present.
    pub fn attribute(&self, name: &str) -> Option<String> {
        let root = self.ds.root_group().ok()?;
        root.attribute(name).ok().map(|a| a.read_as_string())
    }

    /// Variable `name` as (rows, cols, values row-major), if present.
    pub fn variable(&self, name: &str) -> R<Option<(usize, usize, Vec<f64>)>> {
        let root = self.ds.root_group().map_err(|e| e.to_string())?;
        if !root
            .array_names(CslStringList::new())
            .iter()
            .any(|n| n == name)
        {
            return Ok(None);
        }
        let arr = root
            .open_md_array(name, CslStringList::new())
            .map_err(|e| format!("variable {name}: {e}"))?;
        let dims = arr.dimensions().map_err(|e| e.to_string())?;
        if dims.len() != 2 {
            return Err(format!(
                "variable {name} has {} dimensions, not 2",
                dims.len()
            ));
        }
        let (rows, cols) = (dims[0].size(), dims[1].size());
        let values = arr
            .read_as::<f64>(vec![0, 0], vec![rows, cols])
            .map_err(|e| format!("variable {name}: {e}"))?;
        Ok(Some((rows, cols, values)))
    }

    /// The CRS of variable `name` (WKT), if it has one.
    pub fn crs_wkt(&self, name: &str) -> Option<String> {
        let root = self.ds.root_group().ok()?;
        let arr = root.open_md_array(name, CslStringList::new()).ok()?;
        arr.spatial_reference().ok()?.to_wkt().ok()
    }
}

/// A CF NetCDF-4 time stack being written: fields on (time, y, x) in Float32, one time at a
/// time, for xarray, QGIS and other CF readers. The times are fixed when it is created.
pub struct NcStack {
    w: NcWriter,
    time_dim: GDALDimensionH,
    f32_type: GDALExtendedDataTypeH,
    arrays: Vec<GDALMDArrayH>,
    times: usize,
}

impl std::fmt::Debug for NcStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NcStack({:?}, {} times)", self.w, self.times)
    }
}

/// Nodata of the time stack's fields (their `_FillValue`).
pub const STACK_FILL: f32 = -9999.0;

impl NcStack {
    /// A new stack at `path` on `grid` in `crs_wkt`, at `times_s` (s since the scenario's
    /// start, written as CF time with `time_units`), with the fields `vars` (name, unit,
    /// long name), each DEFLATE-compressed in chunks of one time.
    pub fn create(
        path: &Path,
        grid: &GeoGrid,
        crs_wkt: &str,
        times_s: &[f64],
        time_units: &str,
        vars: &[(&str, &str, &str)],
    ) -> R<Self> {
        let w = NcWriter::create(path, grid, crs_wkt)?;
        // SAFETY: every handle is checked for null before use and released in Drop; the
        // strings outlive the calls.
        unsafe {
            let mut s = Self {
                time_dim: ptr::null_mut(),
                f32_type: gdal_sys::GDALExtendedDataTypeCreate(GDALDataType::GDT_Float32),
                arrays: Vec::new(),
                times: times_s.len(),
                w,
            };
            s.time_dim = gdal_sys::GDALGroupCreateDimension(
                s.w.root,
                c("time")?.as_ptr(),
                c("TEMPORAL")?.as_ptr(),
                ptr::null(),
                times_s.len() as u64,
                ptr::null_mut(),
            );
            if s.time_dim.is_null() {
                return Err(last_error("creating dimension time"));
            }
            let mut dim = [s.time_dim];
            let arr = s.w.array("time", &mut dim, &[])?;
            let done =
                s.w.write_array(arr, &[times_s.len()], times_s)
                    .and_then(|()| {
                        for (k, v) in [
                            ("standard_name", "time"),
                            ("long_name", "time"),
                            ("units", time_units),
                            ("calendar", "standard"),
                            ("axis", "T"),
                        ] {
                            s.w.array_attribute(arr, k, v)?;
                        }
                        Ok(())
                    });
            gdal_sys::GDALMDArrayRelease(arr);
            done?;
            let block = format!(
                "BLOCKSIZE=1,{},{}",
                grid.rows.clamp(1, 256),
                grid.cols.clamp(1, 256)
            );
            for &(name, unit, long_name) in vars {
                let mut dims = [s.time_dim, s.w.dims[0], s.w.dims[1]];
                let options =
                    CslStringList::from_iter(["COMPRESS=DEFLATE", "ZLEVEL=1", block.as_str()]);
                let arr = gdal_sys::GDALGroupCreateMDArray(
                    s.w.root,
                    c(name)?.as_ptr(),
                    3,
                    dims.as_mut_ptr(),
                    s.f32_type,
                    options.as_ptr(),
                );
                if arr.is_null() {
                    return Err(last_error(&format!("creating variable {name}")));
                }
                s.arrays.push(arr);
                if let Some(srs) = &s.w.srs
                    && gdal_sys::GDALMDArraySetSpatialRef(arr, srs.to_c_hsrs()) == 0
                {
                    return Err(last_error(&format!("setting the CRS of {name}")));
                }
                if gdal_sys::GDALMDArraySetNoDataValueAsDouble(arr, f64::from(STACK_FILL)) == 0 {
                    return Err(last_error(&format!("setting the fill value of {name}")));
                }
                s.w.array_attribute(arr, "units", unit)?;
                s.w.array_attribute(arr, "long_name", long_name)?;
            }
            Ok(s)
        }
    }

    /// Write time `k`'s fields, in the order they were declared, each `rows × cols` values
    /// row-major, north row first.
    pub fn write_time(&mut self, k: usize, fields: &[&[f32]]) -> R<()> {
        if k >= self.times || fields.len() != self.arrays.len() {
            return Err(format!(
                "time {k} of {} with {} fields for {}",
                self.times,
                fields.len(),
                self.arrays.len()
            ));
        }
        let (rows, cols) = (self.w.rows, self.w.cols);
        for (&arr, values) in self.arrays.iter().zip(fields) {
            if values.len() != rows * cols {
                return Err(format!(
                    "{} values for a {cols} × {rows} grid",
                    values.len()
                ));
            }
            let start = [k as u64, 0, 0];
            let count = [1usize, rows, cols];
            // SAFETY: the array is this file's, on (time, y, x); `values` holds exactly
            // rows × cols f32s, row-major, which GDAL reads.
            let ok = unsafe {
                gdal_sys::GDALMDArrayWrite(
                    arr,
                    start.as_ptr(),
                    count.as_ptr(),
                    ptr::null(),
                    ptr::null(),
                    self.f32_type,
                    values.as_ptr().cast::<c_void>(),
                    values.as_ptr().cast::<c_void>(),
                    std::mem::size_of_val(*values),
                )
            };
            if ok == 0 {
                return Err(last_error(&format!("writing time {k}")));
            }
        }
        Ok(())
    }

    /// A global text attribute.
    pub fn attribute(&mut self, name: &str, value: &str) -> R<()> {
        self.w.attribute(name, value)
    }

    /// Finish the file (flushes and closes it).
    pub fn close(mut self) -> R<()> {
        self.release();
        Ok(())
    }

    fn release(&mut self) {
        // SAFETY: each handle is released once and nulled, before the file is closed.
        unsafe {
            for a in self.arrays.drain(..) {
                gdal_sys::GDALMDArrayRelease(a);
            }
            if !self.time_dim.is_null() {
                gdal_sys::GDALDimensionRelease(self.time_dim);
                self.time_dim = ptr::null_mut();
            }
            if !self.f32_type.is_null() {
                gdal_sys::GDALExtendedDataTypeRelease(self.f32_type);
                self.f32_type = ptr::null_mut();
            }
        }
        self.w.release();
    }
}

impl Drop for NcStack {
    fn drop(&mut self) {
        self.release();
    }
}
